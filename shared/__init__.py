"""The thin library every riskwatch process shares: settings, schema, queue, auth, audit."""
