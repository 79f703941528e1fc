"""Real public dataset fixtures and make_facts.py, which computes their facts.json without steprail."""
