"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:01:54.313749
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workspace',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('name')
    )
    op.create_table('api_key',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('custom_property',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=63), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('allowed_values', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('indexed', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk', 'key')
    )
    op.create_table('customer',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=True),
    sa.Column('city', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.Column('invoicing_entity', sa.String(length=255), nullable=True),
    sa.Column('payment_method_type', sa.String(length=20), nullable=True),
    sa.Column('tax_id', sa.String(length=64), nullable=True),
    sa.Column('parent_id', sa.String(length=255), nullable=True),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('orders_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total_spent', sa.Numeric(precision=20, scale=4), server_default='0', nullable=False),
    sa.Column('last_order_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_order_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('workspace_pk', 'id', name='customer_workspace_id_key')
    )
    op.create_index('customer_country_idx', 'customer', ['workspace_pk', 'country'], unique=False)
    op.create_index('customer_created_idx', 'customer', ['workspace_pk', 'created_at'], unique=False)
    op.create_index('customer_email_idx', 'customer', ['workspace_pk', 'email'], unique=False)
    op.create_index('customer_last_order_idx', 'customer', ['workspace_pk', 'last_order_at'], unique=False)
    op.create_index('customer_parent_idx', 'customer', ['workspace_pk', 'parent_id'], unique=False)
    op.create_index('customer_payment_idx', 'customer', ['workspace_pk', 'payment_method_type', 'country'], unique=False)
    op.create_index('customer_properties_gin', 'customer', ['properties'], unique=False, postgresql_using='gin', postgresql_ops={'properties': 'jsonb_path_ops'})
    op.create_index('customer_total_spent_idx', 'customer', ['workspace_pk', 'total_spent'], unique=False)
    op.create_table('customer_order',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('amount', sa.Numeric(precision=20, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('customer_pk', 'id', name='customer_order_customer_id_key')
    )
    op.create_index('customer_order_placed_idx', 'customer_order', ['customer_pk', 'placed_at'], unique=False)
    op.create_index('customer_order_status_idx', 'customer_order', ['customer_pk', 'status', 'placed_at'], unique=False)
    op.create_table('invoice',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('total', sa.Numeric(precision=20, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('customer_pk', 'id', name='invoice_customer_id_key')
    )
    op.create_index('invoice_issued_idx', 'invoice', ['customer_pk', 'issued_at'], unique=False)
    op.create_index('invoice_status_idx', 'invoice', ['customer_pk', 'status', 'issued_at'], unique=False)
    op.create_table('subscription',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('plan_id', sa.String(length=255), nullable=True),
    sa.Column('amount', sa.Numeric(precision=20, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trial_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_period_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('customer_pk', 'id', name='subscription_customer_id_key')
    )
    op.create_index('subscription_started_idx', 'subscription', ['customer_pk', 'started_at'], unique=False)
    op.create_index('subscription_status_idx', 'subscription', ['customer_pk', 'status', 'started_at'], unique=False)
    op.create_table('verification',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('customer_pk', 'id', name='verification_customer_id_key')
    )
    op.create_index('verification_status_idx', 'verification', ['customer_pk', 'kind', 'status'], unique=False)
    op.create_table('wallet',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('balance', sa.Numeric(precision=20, scale=4), nullable=True),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('customer_pk', 'id', name='wallet_customer_id_key')
    )

    # Search (id, email, name, externalId, case-insensitive substring) and MATCHES
    # use trigram indexes where the server ships pg_trgm; without it they scan.
    op.execute(
        """
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX customer_search_trgm ON customer USING gin (
              (lower(id || ' ' || coalesce(email, '') || ' ' || coalesce(name, '')
                 || ' ' || coalesce(external_id, ''))) gin_trgm_ops);
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS customer_search_trgm")
    op.drop_table('wallet')
    op.drop_index('verification_status_idx', table_name='verification')
    op.drop_table('verification')
    op.drop_index('subscription_status_idx', table_name='subscription')
    op.drop_index('subscription_started_idx', table_name='subscription')
    op.drop_table('subscription')
    op.drop_index('invoice_status_idx', table_name='invoice')
    op.drop_index('invoice_issued_idx', table_name='invoice')
    op.drop_table('invoice')
    op.drop_index('customer_order_status_idx', table_name='customer_order')
    op.drop_index('customer_order_placed_idx', table_name='customer_order')
    op.drop_table('customer_order')
    op.drop_index('customer_total_spent_idx', table_name='customer')
    op.drop_index('customer_properties_gin', table_name='customer', postgresql_using='gin', postgresql_ops={'properties': 'jsonb_path_ops'})
    op.drop_index('customer_payment_idx', table_name='customer')
    op.drop_index('customer_parent_idx', table_name='customer')
    op.drop_index('customer_last_order_idx', table_name='customer')
    op.drop_index('customer_email_idx', table_name='customer')
    op.drop_index('customer_created_idx', table_name='customer')
    op.drop_index('customer_country_idx', table_name='customer')
    op.drop_table('customer')
    op.drop_table('custom_property')
    op.drop_table('api_key')
    op.drop_table('workspace')
