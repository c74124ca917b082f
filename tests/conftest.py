import os, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT/'tests'/'fixtures'
os.environ.setdefault('MPLBACKEND', 'Agg')
