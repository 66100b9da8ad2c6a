"""The Spaces page's layout, one module per top-level tab, so `pages/spaces.py` stays a thin page.

`pages/spaces.py` builds a `SpacesPageContext` once per script run and hands it to each tab:
`search_section` (Search), `my_spaces_section` (My Spaces), `mcp_section` (MCP) and `build_section`
(Build from an idea). These modules only draw; what they show is computed, without Streamlit, in
`core.app.views.spaces` and `core.app.views.build`.
"""

from core.app.spaces_page.build import build_section
from core.app.spaces_page.common import SpacesPageContext, spaces_page_context
from core.app.spaces_page.mcp import mcp_section
from core.app.spaces_page.mine import my_spaces_section
from core.app.spaces_page.search import search_section

__all__ = ["SpacesPageContext", "build_section", "mcp_section", "my_spaces_section", "search_section", "spaces_page_context"]
