"""The agents' knowledge base (知识库): how-to answers an agent gives directly (直接办结), with Chinese search.

``models`` holds the table, ``terms`` turns Chinese text into the index terms both backends store,
``search`` finds and ranks articles (SQLite FTS5 / PostgreSQL GIN) and keeps them up to date.
"""
