import Domain

/// Potential-controlled steps (`potentiostatic`, `sweep`) and the relaxation rule of a `rest`.
extension ProtocolFile {
    static let potentiostaticKeys = [
        "potential", "versus", "duration", "current_limit", "current_cutoff", "capacity",
    ]
    static let sweepKeys = ["versus", "from", "vertices", "to", "rate", "cycles", "current_limit"]
    /// Potentials a step may set, V; a rig's compliance and a `voltage-window` guard narrow it further.
    static let potentialRange: ClosedRange<Double> = -20...20
    /// Scan rates a sweep may take, V/s (0.1 uV/s to 10 V/s): zero or negative rates are refused.
    static let scanRateRange: ClosedRange<Double> = 1e-7...10
    /// Relaxation thresholds a rest may wait for, V/s.
    static let relaxationRateRange: ClosedRange<Double> = 1e-12...1
    /// Most cycles one sweep step may run.
    static let sweepCycleRange: ClosedRange<Int> = 1...10_000

    static func rest(_ node: LocatedNode, position: SourcePosition) throws(FileError) -> RestStep {
        let reader = try node.mapping(allowedKeys: ["duration", "until"])
        guard let durationNode = reader.optional("duration") else {
            throw node.error(
                "a rest needs a `duration` (with `until`, its longest time)",
                allowed: "`duration: 10 min`, optionally with `until: dV/dt < 0.1 mV/min for 5 min`")
        }
        var step = RestStep(duration_s: try durationNode.quantity(.time, range: timeRange), position: position)
        if let untilNode = reader.optional("until") {
            step.until = try relaxationRule(untilNode)
            if step.until!.hold_s >= step.duration_s {
                throw untilNode.error(
                    "the relaxation must hold for less time than the rest's `duration`, or the rest cannot end on it",
                    value: try untilNode.scalarText(expecting: "a rule"),
                    allowed: "a hold shorter than \(formatDuration(step.duration_s))")
            }
        }
        return step
    }

    /// `dV/dt < 0.1 mV/min for 5 min`.
    static func relaxationRule(_ node: LocatedNode) throws(FileError) -> RelaxationRule {
        let text = try node.scalarText(expecting: "a rule such as `dV/dt < 0.1 mV/min for 5 min`")
        let allowed = "`dV/dt < RATE for TIME`, e.g. `dV/dt < 0.1 mV/min for 5 min` (RATE in \(rateUnits))"
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("dV/dt"), let lessThan = trimmed.firstIndex(of: "<") else {
            throw node.error("not a relaxation rule", value: text, allowed: allowed)
        }
        let rest = trimmed[trimmed.index(after: lessThan)...]
        guard let forRange = rest.firstRange(of: " for ") else {
            throw node.error(
                "the rule needs ` for TIME`: how long dV/dt must stay below the rate", value: text,
                allowed: allowed)
        }
        let rateText = String(rest[..<forRange.lowerBound]).trimmingWhitespace()
        let holdText = String(rest[forRange.upperBound...]).trimmingWhitespace()
        let rate: Quantity
        let hold: Quantity
        do {
            rate = try Quantity.parse(rateText, as: .voltageRate)
            hold = try Quantity.parse(holdText, as: .time)
        } catch {
            throw node.error("\(error)", value: text, allowed: allowed)
        }
        guard relaxationRateRange.contains(rate.value) else {
            throw node.error(
                "'\(rateText)' is out of range", value: text,
                allowed: "\(formatNumber(relaxationRateRange.lowerBound)) to "
                    + "\(formatNumber(relaxationRateRange.upperBound)) V/s")
        }
        guard timeRange.contains(hold.value) else {
            throw node.error(
                "'\(holdText)' is out of range", value: text,
                allowed: "\(formatNumber(timeRange.lowerBound)) to \(formatNumber(timeRange.upperBound)) s")
        }
        return RelaxationRule(rate_V_s: rate.value, hold_s: hold.value)
    }

    private static var rateUnits: String { Dimension.voltageRate.acceptedUnits.joined(separator: ", ") }

    static func potentiostatic(_ node: LocatedNode, threeElectrode: Bool) throws(FileError) -> PotentiostaticStep {
        let reader = try node.mapping(allowedKeys: potentiostaticKeys)
        var step = PotentiostaticStep(
            potential_V: try reader.required("potential").quantity(.voltage, range: potentialRange),
            versus: try versus(reader, threeElectrode: threeElectrode))
        step.duration_s = try reader.optional("duration")?.quantity(.time, range: timeRange)
        step.currentLimit = try currentBound(reader.optional("current_limit"))
        step.currentCutoff = try currentBound(reader.optional("current_cutoff"))
        if let capacity = reader.optional("capacity") {
            let quantity = try capacity.quantity(oneOf: [.arealCapacity, .charge], range: 1e-9...1e6)
            step.capacity =
                quantity.dimension == .arealCapacity ? .areal_mAh_cm2(quantity.value) : .absolute_mAh(quantity.value)
        }
        if step.duration_s == nil, step.currentLimit == nil, step.currentCutoff == nil, step.capacity == nil {
            throw node.error(
                "the step has no end",
                allowed: "at least one of `duration`, `current_limit`, `current_cutoff`, `capacity`")
        }
        if let limit = step.currentLimit, let cutoff = step.currentCutoff, limit.isSameKind(as: cutoff),
            cutoff.magnitude >= limit.magnitude
        {
            throw reader.optional("current_cutoff")!.error(
                "the cut-off must lie below the limit, or the step ends at once",
                allowed: "below the `current_limit`")
        }
        return step
    }

    static func sweep(_ node: LocatedNode, threeElectrode: Bool) throws(FileError) -> SweepStep {
        let reader = try node.mapping(allowedKeys: sweepKeys)
        let from = try reader.required("from").quantity(.voltage, range: potentialRange)
        var vertices: [Double] = []
        if let verticesNode = reader.optional("vertices") {
            let items = try verticesNode.list()
            guard !items.isEmpty else {
                throw verticesNode.error("`vertices` lists at least one potential", allowed: "e.g. [10 mV, -10 mV]")
            }
            for item in items { vertices.append(try item.quantity(.voltage, range: potentialRange)) }
        }
        // A sweep with vertices returns to where it began unless told otherwise; a linear sweep needs its end.
        guard
            let to = try reader.optional("to")?.quantity(.voltage, range: potentialRange)
                ?? vertices.first.map({ _ in from })
        else {
            throw node.error("a sweep needs `to` (its end) or `vertices`", allowed: "`to: 1 V`, or `vertices: [...]`")
        }
        let rateNode = try reader.required("rate")
        let rate = try rateNode.quantity(.voltageRate, range: scanRateRange)
        let cycles = try reader.optional("cycles")?.integer(range: sweepCycleRange) ?? 1
        if cycles > 1, to != from {
            throw reader.optional("cycles")!.error(
                "a sweep repeated over cycles must end where it began (`to` equal to `from`)",
                value: String(cycles), allowed: "`cycles: 1`, or `to` equal to `from`")
        }
        var step = SweepStep(
            versus: try versus(reader, threeElectrode: threeElectrode), from_V: from, vertices_V: vertices, to_V: to,
            rate_V_s: rate, cycles: cycles, currentLimit: try currentBound(reader.optional("current_limit")))
        let corners = [from] + vertices + [to]
        guard zip(corners, corners.dropFirst()).contains(where: { $0.0 != $0.1 }) else {
            throw node.error("the sweep goes nowhere: its potentials are all equal; use `potentiostatic` for a hold")
        }
        step.vertices_V = vertices
        return step
    }

    /// `versus: RE|CE`; RE by default in a three-electrode protocol, CE otherwise, and RE only in one.
    private static func versus(_ reader: MappingReader, threeElectrode: Bool) throws(FileError) -> PotentialReference {
        guard let node = reader.optional("versus") else { return threeElectrode ? .reference : .counter }
        let word = try node.word(allowed: PotentialReference.allCases.map(\.rawValue))
        let reference = PotentialReference(rawValue: word)!
        if reference == .reference, !threeElectrode {
            throw node.error(
                "a potential vs the reference electrode needs `three_electrode: true`", value: word, allowed: "CE")
        }
        return reference
    }

    private static func currentBound(_ node: LocatedNode?) throws(FileError) -> CurrentSetting? {
        guard let node else { return nil }
        let quantity = try node.current(currentRange: 1e-12...10, densityRange: 1e-9...1000)
        return setting(quantity)
    }

    /// Refuses a potential step whose potentials leave a `voltage-window` guard's range, at the step.
    static func checkPotentials(_ steps: [ProtocolStep], against criteria: [CriterionDeclaration], file: String)
        throws(FileError)
    {
        guard let window = criteria.first(where: { $0.name == "voltage-window" }),
            let low = window.quantity("min"), let high = window.quantity("max"), low <= high
        else { return }
        do {
            try TestProtocol.checkPotentials(
                steps, within: low...high, limitName: "the protocol's voltage-window guard")
        } catch {
            throw FileError(
                file: file, line: error.position?.line, column: error.position?.column,
                key: error.position?.key ?? "steps", problem: error.message)
        }
    }
}

extension CurrentSetting {
    func isSameKind(as other: CurrentSetting) -> Bool {
        switch (self, other) {
        case (.current_A, .current_A), (.density_mA_cm2, .density_mA_cm2): true
        default: false
        }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension ProtocolFile {
    /// Refuses a criterion that judges only some kinds of step (dendrite and voiding criteria judge steps under a
    /// set current) in a protocol that has none of them, at the criterion's line.
    static func checkJudgedSteps(_ steps: [ProtocolStep], criteria: [CriterionDeclaration], file: String)
        throws(FileError)
    {
        let kinds = TestProtocol.stepKinds(of: steps)
        for declaration in criteria {
            guard let judged = declaration.spec?.judges, !kinds.contains(where: judged.contains) else { continue }
            throw FileError(
                file: file, line: declaration.position?.line, column: declaration.position?.column,
                key: declaration.position?.key ?? declaration.name,
                problem: "`\(declaration.name)` judges only \(judged.map(\.rawValue).joined(separator: ", ")) steps "
                    + "(it watches the voltage under a set current) and this protocol has none: its steps are "
                    + kinds.map(\.rawValue).joined(separator: ", "),
                allowed: "remove the criterion, or add a step it judges; in potentiostatic and sweep steps the "
                    + "current is what is measured")
        }
    }
}
