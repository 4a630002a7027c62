import Domain

extension PlannedStep {
    /// The event's message when the step starts: what it does, in the protocol's terms.
    var startMessage: String {
        let where_ = cycle > 0 ? "cycle \(cycle) " : ""
        switch kind {
        case .rest:
            guard let rule = relaxation else { return "step \(index): \(where_)rest" }
            return "step \(index): \(where_)rest until |dV/dt| < "
                + "\(formatNumber(rule.rate_V_s * 60e3)) mV/min for \(formatNumber(rule.hold_s)) s"
        case .potentiostatic, .sweep:
            return "step \(index): \(where_)\(kind.rawValue) \(potential?.summary ?? "")"
        case .setTemperature, .wait:
            var text = "step \(index): \(where_)\(kind.rawValue)"
            if let setpoint = temperatureSetpoint_C { text += " to \(formatNumber(setpoint)) C" }
            if let wait {
                text += ", at open circuit until " + wait.conditions.map(\.description).joined(separator: " and ")
                if let timeout = wait.timeout_s { text += " (timeout \(formatSeconds(timeout)))" }
            }
            return text
        case .impedance:
            guard let impedance else { return "step \(index): \(where_)impedance" }
            return "step \(index): \(where_)\(impedance.control.rawValue) impedance, "
                + "\(formatNumber(impedance.startFrequency_Hz)) Hz to \(formatNumber(impedance.endFrequency_Hz)) Hz, "
                + "\(impedance.pointCount) points"
        default:
            return "step \(index): \(where_)\(kind.rawValue) at "
                + "\(formatNumber(currentDensity_mA_cm2)) mA/cm2 (\(formatNumber(current_A)) A)"
        }
    }
}
