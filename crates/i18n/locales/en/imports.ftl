# Imports from the dashboard.
