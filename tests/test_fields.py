"""distlab.apps.fields: chapter 09's table of fields, one exact run each."""
from distlab.apps import fields


def test_fields_are_exact_and_cover_the_documents_list():
    t = fields.fields()
    assert list(t.index) == ["distributed database", "distributed storage",
                             "distributed computing", "large-model training",
                             "prediction serving", "recommendation"]
    assert "linearizable = True" in t.loc["distributed database", "what the run shows"]
    assert t.equals(fields.fields())
