"""Shared Streamlit widgets for the SLMOps Studio pages (the engine never imports this package)."""
