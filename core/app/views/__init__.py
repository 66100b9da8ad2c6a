"""Pure view builders: data in, rows, figures or graphs out. Tested without a browser."""
