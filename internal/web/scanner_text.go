package web

// scanText holds every string of the gate scanner: Indonesian, English.
var scanText = map[string][2]string{}
