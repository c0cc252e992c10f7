"""The cockpit: the web desk of credit and risk teams, rendered on the server from the public
API (it never touches the schema)."""
