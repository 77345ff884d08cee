"""Speech features computed outside the nets (openSMILE eGeMAPS LLDs, ...)."""
