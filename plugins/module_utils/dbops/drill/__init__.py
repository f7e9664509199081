"""The disaster-recovery drill: write load, simulated disaster, verification and report."""
