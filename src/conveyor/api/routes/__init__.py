"""One module per resource; each holds an APIRouter mounted under /api/v1."""
