from siks_kit.web.serve import serve

from .bootstrap import build_app
from .config import Settings

serve("decree", Settings(), build_app)
