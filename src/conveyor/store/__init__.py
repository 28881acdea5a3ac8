"""The only package that imports SQLAlchemy: tables, queries, migrations, connections."""
