package config

// Order returns the service names in the order they are to be started:
// today the order of the file.
func (c *Config) Order() []string {
	names := make([]string, len(c.Services))
	for i, s := range c.Services {
		names[i] = s.Name
	}
	return names
}
