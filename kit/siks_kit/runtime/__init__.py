"""What a running service is made of: settings, the clock, the service lifecycle, the calendar loader, circuit breakers."""
