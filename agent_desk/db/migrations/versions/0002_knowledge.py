"""Knowledge base: articles and their Chinese full-text index (SQLite FTS5 / PostgreSQL GIN).

Both backends index the same precomputed terms (characters and bigrams, see
agent_desk/knowledge/terms.py) in ``title_terms`` and ``body_terms``:
- SQLite: an external-content FTS5 table ``knowledge_fts`` (rowid = article id) that triggers keep in
  step with every INSERT, UPDATE and DELETE of ``knowledge_articles``;
- PostgreSQL: a GIN index on the weighted tsvector (title A, body B) of the 'simple' configuration. The
  expression is repeated here on purpose (a migration is a snapshot); agent_desk/knowledge/search.py
  queries with the same expression, so the planner can use the index.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

PG_VECTOR = ("(setweight(to_tsvector('simple'::regconfig, title_terms), 'A') || "
             "setweight(to_tsvector('simple'::regconfig, body_terms), 'B'))")
FTS_COLUMNS = "rowid, title_terms, body_terms"


def upgrade() -> None:
    op.create_table('knowledge_articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('title_terms', sa.Text(), nullable=False),
    sa.Column('body_terms', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_articles')),
    sa.UniqueConstraint('code', name=op.f('uq_knowledge_articles_code'))
    )
    with op.batch_alter_table('knowledge_articles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_articles_topic'), ['topic'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE knowledge_fts USING fts5(title_terms, body_terms, "
                   "content='knowledge_articles', content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
        new = f"INSERT INTO knowledge_fts({FTS_COLUMNS}) VALUES (new.id, new.title_terms, new.body_terms);"
        old = (f"INSERT INTO knowledge_fts(knowledge_fts, {FTS_COLUMNS}) "
               "VALUES ('delete', old.id, old.title_terms, old.body_terms);")
        op.execute(f"CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_articles BEGIN {new} END")
        op.execute(f"CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_articles BEGIN {old} END")
        op.execute(f"CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON knowledge_articles BEGIN {old} {new} END")
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_knowledge_articles_search ON knowledge_articles USING gin ({PG_VECTOR})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS knowledge_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_search")
    with op.batch_alter_table('knowledge_articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_articles_topic'))

    op.drop_table('knowledge_articles')
