"""Lookups: the values a param may take, from the metadata repository."""

from __future__ import annotations

from fastapi import APIRouter, Request

from conveyor.actions.lookups import resolve
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import Name
from conveyor.api.schemas import LookupOut

router = APIRouter(prefix="/lookups", tags=["lookups"])


@router.get("/{name}", response_model=LookupOut)
def get_lookup(name: Name, request: Request, rt: Rt, actor: CurrentActor) -> LookupOut:
    """The lookup's values; its params come from the query string (`?service=x`)."""
    params = dict(request.query_params)
    return LookupOut(name=name, values=resolve(rt, actor, name, params))
