"""SLMOps Studio engine: everything that does work. Never imports streamlit."""

__version__ = "0.1.0"
