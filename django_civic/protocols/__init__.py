"""What the protocol clients (SIP, Civic Auth, IDEMIA) share. Pure Python: never imports Django."""
