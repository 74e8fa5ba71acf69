"""The period-close dashboard in the sidebar: figures, their snapshots, and keeping them fresh."""
