public import Domain

extension CellModel {
    /// Advances the cell by `interval_s` under the constant current that brings the controlled voltage (WE-RE for
    /// `.reference` when the model reports it, else the cell voltage) to `target_V` at the end of the interval,
    /// and returns that reading: what an ideal potentiostat sampling once per interval does.
    ///
    /// The current is found on copies of the model (a cell model is a value), by bracketing from `guess_A` and
    /// regula falsi (Illinois); the reading's voltage rises with the current for every model cellrig has. A
    /// current beyond +/- `compliance_A` is not applied: the instrument stays at its compliance, as a real one
    /// does, and the reading shows the potential it could reach.
    public mutating func advance(
        by interval_s: Double, holding target_V: Double, versus reference: PotentialReference,
        compliance_A: Double, guess_A: Double = 0
    ) -> CellReading {
        func error(_ current_A: Double) -> Double {
            var trial = self
            let reading = trial.advance(by: interval_s, current_A: current_A)
            let controlled =
                reference == .reference ? (reading.voltageWERE_V ?? reading.voltage_V) : reading.voltage_V
            return controlled - target_V
        }
        let limit = abs(compliance_A)
        let start = min(max(guess_A, -limit), limit)
        let startError = error(start)
        guard startError != 0 else { return advance(by: interval_s, current_A: start) }
        // Step away from the guess, doubling, until the error changes sign or the compliance is reached.
        let direction = startError < 0 ? 1.0 : -1.0
        var step = max(abs(start) * 0.05, 1e-12)
        var near = (current: start, error: startError)
        var far = near
        while true {
            let next = min(max(near.current + direction * step, -limit), limit)
            let nextError = error(next)
            far = (next, nextError)
            if (nextError > 0) != (startError > 0) || nextError == 0 { break }
            if abs(next) >= limit { return advance(by: interval_s, current_A: next) }
            near = far
            step *= 2
        }
        // Illinois regula falsi between the bracket ends.
        var (a, fa) = near
        var (b, fb) = far
        var side = 0
        for _ in 0..<80 {
            let c = (a * fb - b * fa) / (fb - fa)
            let fc = error(c)
            if fc == 0 || abs(b - a) <= 1e-10 * max(abs(a), abs(b), 1e-15) {
                a = c
                fa = fc
                break
            }
            if (fc > 0) == (fb > 0) {
                b = c
                fb = fc
                if side == -1 { fa /= 2 }
                side = -1
            } else {
                a = c
                fa = fc
                if side == 1 { fb /= 2 }
                side = 1
            }
        }
        let best = abs(fa) <= abs(fb) ? a : b
        return advance(by: interval_s, current_A: best)
    }
}
