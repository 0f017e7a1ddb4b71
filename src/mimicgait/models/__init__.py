"""mimicgait.models"""
