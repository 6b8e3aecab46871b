"""Intake routes of the certificates family (beyond POST /v1/jobs). Filled in by the family's issue."""
from fastapi import APIRouter

router = APIRouter(tags=["certificates"])
