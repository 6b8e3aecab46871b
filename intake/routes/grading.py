"""Intake routes of the grading family (beyond POST /v1/jobs)."""
from fastapi import APIRouter

router = APIRouter(tags=["grading"])
