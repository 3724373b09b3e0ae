"""Distillation stage 1: the teacher answers the prompts; every answer is cached the moment it arrives."""
