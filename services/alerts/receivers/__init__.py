"""Receivers: where alert notifications go (signed webhooks, e-mail, chat tools), and the
deliveries that carry them there with retries."""
