import ArgumentParser
import Domain

/// `cellrig criteria`: the stop criteria a protocol's `stop:` list may name, with their parameters.
struct Criteria: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the stop criteria protocols may use, with parameters, units, ranges and defaults.")

    func run() throws {
        for spec in CriterionCatalogue.all {
            print("\(spec.name): \(spec.help)")
            if let judged = spec.judges {
                print(
                    "    judges: \(judged.map(\.rawValue).joined(separator: ", ")) steps (not potentiostatic or sweep)")
            }
            for parameter in spec.parameters {
                print("    \(parameter.name) [\(describe(parameter.kind))]\(defaultText(parameter)): \(parameter.help)")
            }
        }
    }

    private func describe(_ kind: ParameterSpec.Kind) -> String {
        switch kind {
        case .quantity(let dimension, let range):
            let unit = dimension.canonicalUnit
            return "\(dimension.phrase), \(formatNumber(range.lowerBound)) to \(formatNumber(range.upperBound)) \(unit)"
        case .word(let words):
            return words.joined(separator: " | ")
        }
    }

    private func defaultText(_ parameter: ParameterSpec) -> String {
        parameter.defaultValue.map { " (default \($0))" } ?? ""
    }
}
