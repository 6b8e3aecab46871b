"""Intake routes of the sandbox family (beyond POST /v1/jobs). Filled in by the family's issue."""
from fastapi import APIRouter

router = APIRouter(tags=["sandbox"])
