"""The HTTP edge: tokens, problem details, rate and body limits, serving."""
