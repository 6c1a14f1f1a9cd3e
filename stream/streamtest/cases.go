package streamtest

func (s *suite) tests() []testCase {
	return nil
}
