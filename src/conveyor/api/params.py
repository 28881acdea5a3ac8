"""Path and query parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# Ids are 32-bit in the schema: a larger number is bad input (422), not a database error.
MAX_ID = 2**31 - 1

RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="The run's id.")]
StepKey = Annotated[str, Path(min_length=1, max_length=64, description="The step's id.")]
Name = Annotated[str, Path(min_length=1, max_length=200)]
After = Annotated[int, Query(ge=0, le=MAX_ID, description="Only items after this id.")]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only items before this id.")]
