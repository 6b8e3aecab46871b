"""Intake routes of the video family (beyond POST /v1/jobs). Filled in by the family's issue."""
from fastapi import APIRouter

router = APIRouter(tags=["video"])
