import Domain
import Foundation

/// The conditioning steps: `set_temperature` and `wait`, and the `until:` sentences they wait for.
extension ProtocolFile {
    static let temperatureRange: ClosedRange<Double> = -100...500
    static let pressureRange: ClosedRange<Double> = 0...1000

    /// `set_temperature: {setpoint: 80 C, wait: {within: 1 C, for: 10 min}, timeout: 2 h}`.
    static func setTemperature(_ node: LocatedNode, position: SourcePosition) throws(FileError) -> SetTemperatureStep {
        let reader = try node.mapping(allowedKeys: ["setpoint", "wait", "timeout"])
        let setpoint = try reader.required("setpoint").quantity(.temperature, range: temperatureRange)
        var step = SetTemperatureStep(setpoint_C: setpoint, position: position)
        if let waitNode = reader.optional("wait") {
            let entries = try waitNode.mapping(allowedKeys: ["within", "for"])
            let tolerance = try entries.required("within").quantity(.temperature, range: 0.01...100)
            let hold = try entries.required("for").quantity(.time, range: 0...timeRange.upperBound)
            let conditions = [
                WaitCondition(quantity: .temperature, target: setpoint, tolerance: tolerance, hold_s: hold)
            ]
            step.wait = WaitRule(conditions: conditions, timeout_s: try timeout(reader, beyond: conditions))
        } else if let timeout = reader.optional("timeout") {
            throw timeout.error("`timeout` needs `wait:`", allowed: "`wait: {within: 1 C, for: 10 min}` beside it")
        }
        return step
    }

    /// `wait: {until: temperature within 80 +/- 1 C for 10 min, timeout: 2 h}`; `until` may be a list of such
    /// sentences, all of which must hold at once.
    static func waitRule(_ node: LocatedNode) throws(FileError) -> WaitRule {
        let reader = try node.mapping(allowedKeys: ["until", "timeout"])
        let untilNode = try reader.required("until")
        let sentences: [LocatedNode]
        if untilNode.node.sequence != nil {
            sentences = try untilNode.list()
            guard !sentences.isEmpty else { throw untilNode.error("the list of conditions is empty") }
        } else {
            sentences = [untilNode]
        }
        var conditions: [WaitCondition] = []
        for sentence in sentences { conditions.append(try waitCondition(sentence)) }
        let rule = WaitRule(conditions: conditions, timeout_s: try timeout(reader, beyond: conditions))
        return rule
    }

    /// The optional `timeout`, which must leave time for the longest hold: a shorter one could never be met.
    static func timeout(_ reader: MappingReader, beyond conditions: [WaitCondition]) throws(FileError) -> Double? {
        guard let node = reader.optional("timeout") else { return nil }
        let timeout = try node.quantity(.time, range: timeRange)
        let longest = conditions.map(\.hold_s).max() ?? 0
        guard timeout > longest else {
            throw node.error(
                "the timeout is not longer than the settling time it waits for, so the wait could never be met",
                value: formatSeconds(timeout), allowed: "more than \(formatSeconds(longest))")
        }
        return timeout
    }

    static let untilForm =
        "`temperature within 80 +/- 1 C for 10 min` or `stack_pressure within 7 +/- 0.2 MPa for 5 min`"

    /// One `until:` sentence: `<quantity> within <target> +/- <tolerance> <unit> for <time>`.
    static func waitCondition(_ node: LocatedNode) throws(FileError) -> WaitCondition {
        let text = try node.scalarText(expecting: untilForm)
        func refuse(_ problem: String) -> FileError { node.error(problem, value: text, allowed: untilForm) }
        let words = text.split(separator: " ", maxSplits: 2)
        guard words.count == 3, words[1] == "within" else {
            throw refuse("a condition reads `<quantity> within <value> +/- <tolerance> <unit> for <time>`")
        }
        guard let quantity = WaitCondition.Quantity(rawValue: String(words[0])) else {
            throw node.error(
                "unknown quantity '\(words[0])'", value: text,
                allowed: WaitCondition.Quantity.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let rest = String(words[2])
        guard let forRange = rest.range(of: " for ", options: .backwards) else {
            throw refuse("the condition has no settling time (`for 10 min`)")
        }
        let band = rest[..<forRange.lowerBound]
        let holdText = String(rest[forRange.upperBound...])
        let parts = band.components(separatedBy: "+/-")
        guard parts.count == 2 else { throw refuse("the band is written `<value> +/- <tolerance> <unit>`") }
        let dimension: Domain.Dimension = quantity == .temperature ? .temperature : .pressure
        let toleranceText = parts[1].trimmingCharacters(in: .whitespaces)
        let tolerance: Double
        do {
            tolerance = try Quantity.parse(toleranceText, as: dimension).value
        } catch {
            throw refuse("the tolerance: \(error)")
        }
        // The unit may follow the target too (`80 C +/- 1 C`); a bare target takes the tolerance's unit.
        var targetText = parts[0].trimmingCharacters(in: .whitespaces)
        if Double(targetText) != nil, let unit = toleranceText.split(separator: " ").last {
            targetText += " " + unit
        }
        let target: Double
        let hold: Double
        do {
            target = try Quantity.parse(targetText, as: dimension).value
            hold = try Quantity.parse(holdText, as: .time).value
        } catch {
            throw refuse("\(error)")
        }
        let range = quantity == .temperature ? temperatureRange : pressureRange
        guard range.contains(target), tolerance > 0, tolerance <= (range.upperBound - range.lowerBound),
            hold >= 0, hold <= timeRange.upperBound
        else {
            throw refuse(
                "out of range: the target must lie in \(formatNumber(range.lowerBound)) to "
                    + "\(formatNumber(range.upperBound)) \(quantity.unit), the tolerance be positive, the time at most "
                    + "a year")
        }
        return WaitCondition(quantity: quantity, target: target, tolerance: tolerance, hold_s: hold)
    }
}
