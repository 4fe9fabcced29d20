from siks_kit.web.serve import serve

from .bootstrap import build_app
from .config import Settings

serve("integration", Settings(), build_app)
