"""Web pages: sign-in and an overview; every user-written text is escaped by Jinja2."""
