"""What one-line text the desk accepts in a query or a short field: no control characters. A NUL byte, which
PostgreSQL refuses in text, would otherwise reach a query and answer 500 instead of a clear 422."""

ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
