"""The walker: gait pattern, balance on the deck and energy cost."""
