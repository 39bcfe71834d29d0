"""Widgets that render `views` rows; they read nothing themselves."""
