"""Intake routes of the grading family (beyond POST /v1/jobs). Filled in by the family's issue."""
from fastapi import APIRouter

router = APIRouter(tags=["grading"])
