"""Everything that needs torch: building modules from the layer graph. Imported only by the
commands that need it (verify), never by the analytic path."""
