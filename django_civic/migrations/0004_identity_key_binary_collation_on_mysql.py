"""MariaDB and MySQL compare text case-insensitively by default, so their unique index would make
``("civic_sip", "abc")`` and ``("civic_sip", "AbC")`` one identity key: the second person could never sign
in (a 409, never a takeover: the key is also compared exactly in Python). Identity keys are compared
byte for byte on every database, as PostgreSQL and SQLite already do: a binary collation here."""

from django.db import migrations

_COLUMNS = ("provider", "subject")


def binary_keys(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    model = apps.get_model("django_civic", "CivicIdentity")
    table = schema_editor.quote_name(model._meta.db_table)
    for name in _COLUMNS:
        field = model._meta.get_field(name)
        schema_editor.execute(
            f"ALTER TABLE {table} MODIFY {schema_editor.quote_name(field.column)} "
            f"varchar({field.max_length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
        )


class Migration(migrations.Migration):
    dependencies = [("django_civic", "0003_attribute_validity_indexes")]

    # DDL: MySQL cannot run it inside a transaction.
    operations = [migrations.RunPython(binary_keys, migrations.RunPython.noop, atomic=False)]
