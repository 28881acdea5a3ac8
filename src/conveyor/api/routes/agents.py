"""Agents: who is there to run steps."""

from __future__ import annotations

from fastapi import APIRouter

from conveyor.actions import catalog
from conveyor.actions.queries import iso_time
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.schemas import AgentOut

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=list[AgentOut])
def list_agents(rt: Rt, actor: CurrentActor) -> list[AgentOut]:
    """Agents that have not stopped, with their tags, slots and last heartbeat."""
    return [
        AgentOut(
            id=a.id,
            name=a.name,
            hostname=a.hostname,
            pid=a.pid,
            tags=list(a.tags),
            slots=a.slots,
            state=a.state,
            started_at=iso_time(a.started_at),
            heartbeat_at=iso_time(a.heartbeat_at),
        )
        for a in catalog.agents(rt, actor)
    ]
