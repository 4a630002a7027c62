import Domain
import Engine
import Instruments
import ProtocolFiles
import Transport

/// The reason a run ended by an instrument fault, in words: which instrument, and what it did (did not answer,
/// went away, refused). The bytes exchanged stay in the fault event, which keeps the error's whole text.
enum FaultReason {
    /// Longest instrument message quoted in a reason; a longer one is cut at a word.
    static let longestQuote = 160

    /// `instrument fault: the Keithley 2400 on /dev/pts/7 did not answer (timeout) while applying -98 uA`.
    static func instrumentFault(_ error: any Error, during command: InstrumentCommand? = nil) -> String {
        var text = "instrument fault: " + describe(error)
        if let command { text += " while " + doing(command) }
        return text
    }

    /// What went wrong, in one short sentence without bytes.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as InstrumentError:
            let instrument = "the \(error.instrument)"
            switch error.code {
            case .timeout: return "\(instrument) did not answer (timeout)"
            case .disconnected: return "\(instrument) is no longer connected (its port closed)"
            case .invalidReply: return "\(instrument) sent replies that could not be read"
            case .rejected: return "\(instrument) refused: \(quote(error.message))"
            case .notConfigured: return "\(instrument) was not ready: \(quote(error.message))"
            }
        case let error as TransportError:
            return "the instrument on \(error.port) " + transportPhrase(error.kind)
        case let error as PressureSensorFailure:
            return "pressure sensor: " + describe(error.underlying)
        case let error as InstrumentUnavailable:
            return quote(error.description)
        default:
            return quote("\(error)")
        }
    }

    private static func transportPhrase(_ kind: TransportError.Kind) -> String {
        switch kind {
        case .timeout: "did not answer (timeout)"
        case .disconnected, .closed: "is no longer connected (its port closed)"
        case .garbled, .overlongLine: "sent replies that could not be read"
        case .openFailed, .busy: "could not be opened (\(kind.rawValue))"
        case .ioFailure: "could not be read or written (\(kind.rawValue))"
        }
    }

    private static func doing(_ command: InstrumentCommand) -> String {
        switch command {
        case .applyCurrent(let current_A): "applying \(formatCurrent(current_A))"
        case .openCircuit: "opening the circuit"
        case .measureImpedance: "measuring an impedance spectrum"
        case .applyPotential(let program): "setting the potential (\(program.summary))"
        case .setTemperature(let setpoint_C): "setting the temperature to \(formatNumber(setpoint_C)) C"
        }
    }

    /// The text itself when short, else its first words and an ellipsis.
    static func quote(_ text: String) -> String {
        guard text.count > longestQuote else { return text }
        let cut = text.prefix(longestQuote)
        let atWord = cut.lastIndex(of: " ").map { cut[..<$0] } ?? cut
        return atWord + "..."
    }
}
