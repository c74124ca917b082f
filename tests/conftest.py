import os, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT/'tests'/'fixtures'
os.environ.setdefault('MPLBACKEND', 'Agg')
SHARED_EXTERNAL = Path(os.environ.get('AIQARUS_SUITE_DIR', ROOT.parent/'shared'/'external'))   # the unmodified benchmark files, where CI has them
