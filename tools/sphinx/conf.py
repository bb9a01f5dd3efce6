"""Sphinx configuration of the documentation site (`make docs`; `tools/site.py` writes the sources it reads).

The pages are nbdev's processed notebooks rendered by myst-nb without running them again (their outputs come
from the test run), with the furo theme (sidebar, phone layout, dark mode), Sphinx's own offline search, and
MathJax served from the site itself."""
import configparser, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
settings = configparser.ConfigParser(delimiters=['='])
settings.read(ROOT/'settings.ini')
cfg = settings['DEFAULT']

project = cfg['lib_name']
author = cfg['author']
copyright = cfg['copyright']
release = version = cfg['version']

extensions = ['myst_nb', 'sphinx.ext.viewcode', 'sphinx.ext.mathjax']
exclude_patterns = ['_build', '**.ipynb_checkpoints']
suppress_warnings = ['mystnb.unknown_mime_type', 'myst.header', 'misc.highlighting_failure']

# the notebooks ran in the test run; their outputs are in the sources already
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'   # show_doc's output is a `py` domain directive (tools/site.py)
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'deflist']
myst_heading_anchors = 4
myst_dmath_double_inline = True

add_module_names = False
python_display_short_literal_types = True

html_theme = 'furo'
html_title = project
html_static_path = [str(ROOT/'build'/'site'/'_static')]   # written by tools/site.py
html_css_files = ['site.css']
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {'navigation_with_keys': True, 'top_of_page_buttons': []}

# MathJax from _static (tools/site.py copies it there), never from a CDN
mathjax_path = 'mathjax/tex-chtml.js'
mathjax3_config = {'tex': {'inlineMath': [['\\(', '\\)']], 'displayMath': [['\\[', '\\]']]},
                   'options': {'enableMenu': False}}
html_favicon = str(Path(__file__).with_name('favicon.svg'))
