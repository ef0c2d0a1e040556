"""convviz's Streamlit entry point: a router and nothing else.

Run it with ``streamlit run app.py``. Streamlit finds ``app`` below, an ``st.App`` that
serves this script and one more route, the pages' downloads (:mod:`convviz.viz.downloads`),
so a download is a plain URL that any server process answers. Every page lives in
``app_pages/`` and is listed in ``PAGE_SPECS``; the browser smoke test visits each entry
of that list. (Not ``pages/``:
Streamlit treats a ``pages/`` folder beside the entry script as its legacy multipage app
until ``st.navigation`` first runs, so a deep link to a fresh server would skip this router.)
"""

from __future__ import annotations

import streamlit as st

#: (script, title, url path, icon) for every page; the first one is where "/" leads.
PAGE_SPECS: tuple[tuple[str, str, str, str], ...] = (
    ("app_pages/home.py", "Home", "home", ":material/home:"),
    ("app_pages/convolution.py", "Convolution", "convolution", ":material/grid_on:"),
    ("app_pages/transposed.py", "Transposed convolution", "transposed", ":material/open_in_full:"),
    ("app_pages/depthwise.py", "Depthwise and separable", "depthwise", ":material/layers:"),
    ("app_pages/cropping.py", "Cropping", "cropping", ":material/crop:"),
    ("app_pages/padding.py", "Zero padding", "padding", ":material/border_outer:"),
    ("app_pages/upsampling.py", "Upsampling", "upsampling", ":material/zoom_out_map:"),
    ("app_pages/shape_lab.py", "Shape lab", "shape-lab", ":material/science:"),
    ("app_pages/stacks.py", "Stacks", "stacks", ":material/stacks:"),
    ("app_pages/demystified.py", "Transposed, demystified", "demystified", ":material/lightbulb:"),
    ("app_pages/real_data.py", "On real data", "real-data", ":material/image:"),
    ("app_pages/shape_calculator.py", "Shape calculator", "shape-calculator",
     ":material/straighten:"),
)


def main() -> None:
    st.set_page_config(page_title="convviz", page_icon=":material/grid_on:", layout="wide")
    pages = [
        st.Page(script, title=title, url_path=url_path, icon=icon)
        for script, title, url_path, icon in PAGE_SPECS
    ]

    def start() -> None:
        """``/``: the app's root leads to Home, which keeps its own path (``/home``)."""
        st.switch_page(pages[0])

    # The default page is served at "/" and reserves its own path, so it is this hidden
    # redirect; every listed page then answers at its url path, Home included.
    root = st.Page(start, title=PAGE_SPECS[0][1], url_path="start", default=True,
                   visibility="hidden")
    st.navigation([root, *pages]).run()


if __name__ == "__main__":  # a session's run of this script
    main()
else:  # imported by `streamlit run app.py` (or uvicorn): serve the script plus downloads
    from convviz.viz import downloads, memory

    memory.tune()  # the process's allocator, set for a class (see convviz.viz.memory)
    app = st.App(__file__, routes=downloads.routes(), lifespan=downloads.lifespan)
