//! Processes: [`CommandLine`], a program from the field's allowlist and its arguments as a
//! list, run without a shell.

use std::borrow::Cow;
use std::fmt;

use crate::problem::Problem;

/// Arguments accepted at most.
pub const MAX_ARGS: usize = 64;
/// Longest accepted argument, in bytes.
pub const MAX_ARG_BYTES: usize = 4096;

/// A program and its arguments, as JSON `{"program": "git", "args": ["log", "-n", "5"]}`.
///
/// Checked when deserialized: the program is a bare name of letters, digits and `._+-`
/// (no path, no shell metacharacters, no whitespace, not starting with `-`), arguments
/// are at most [`MAX_ARGS`] of at most [`MAX_ARG_BYTES`], without control or hidden
/// characters. Checked against the field's annotation, which is required:
///
/// ```text
/// #[secure(command(programs = ["git"], options = ["log", "--oneline", "-n", "--format="]))]
/// cmd: CommandLine,
/// ```
///
/// the program must be listed, and every argument that starts with `-` must be an
/// allowed option: an exact match, or `--name=value` when `--name=` is listed. So
/// `--upload-pack=...` or `-c core.sshCommand=...` is refused unless written down.
///
/// Some programs read options, or code, from words without a `-`, and those words are
/// options here too, allowed only when listed: `tar`'s first word (`tar cfI out.tar
/// 'touch /tmp/x' .` is `tar -cfI ...`: listed as `-cf`, or as written), `ps`'s letter
/// words (`ps eww` prints every process's environment; `aux` must be listed), `sed`'s
/// script and `awk`'s program (code: `sed '1e id'` runs `id`), and `dd`'s `key=value`
/// operands (`of=/dev/sda`; `if=` listed allows `if=...`), `git`'s subcommand (`git
/// config` writes what later commands run: list `log`, `status`...), a `jq` program,
/// `make`'s `VAR=value` words, and every word of a program that runs another (`env`,
/// `xargs`, `timeout`, `busybox`, `sudo`...).
///
/// [`CommandLine::command`] builds a `std::process::Command` that runs the program
/// directly: no shell ever sees the arguments, so `$(id)` is just text.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CommandLine {
    program: String,
    args: Vec<String>,
}

/// Why a command was refused. Names the rule, never the command.
pub type CommandRejection = super::Rejection;

use super::checked::reject;

impl CommandLine {
    /// Check the shape of a program and its arguments (the allowlist is the field's).
    pub fn new(program: &str, args: Vec<String>) -> Result<Self, CommandRejection> {
        if program.is_empty() || program.len() > 64 {
            return reject("the program name has 1 to 64 characters");
        }
        if program.starts_with(['-', '.'])
            || !program
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        {
            return reject("the program is a bare name: no paths, spaces or shell characters");
        }
        if args.len() > MAX_ARGS {
            return reject("too many arguments (at most 64)");
        }
        for arg in &args {
            if arg.len() > MAX_ARG_BYTES {
                return reject("an argument is too long (at most 4096 bytes)");
            }
            if super::find_hidden(arg).is_some() {
                return reject("an argument contains control or hidden characters");
            }
        }
        Ok(Self {
            program: program.to_owned(),
            args,
        })
    }

    /// The program name.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Whether the program is on `programs` and every option-like argument on `options`.
    pub fn check(&self, programs: &[&str], options: &[&str]) -> Result<(), CommandRejection> {
        if !programs.contains(&self.program.as_str()) {
            return Err(CommandRejection::owned(format!(
                "only these programs may run: {}",
                programs.join(", ")
            )));
        }
        let listed = |arg: &str| {
            options.iter().any(|o| {
                arg == *o || (o.ends_with('=') && arg.starts_with(o) && arg.len() > o.len())
            })
        };
        for (index, arg) in self.args.iter().enumerate() {
            let allowed = if arg.starts_with('-') {
                listed(arg)
            } else if positional_option(&self.program, &self.args, index) {
                // As written, or (tar's old style) as the `-` cluster it stands for.
                listed(arg) || (is_tar(&self.program) && listed(&format!("-{arg}")))
            } else {
                true
            };
            if !allowed {
                return Err(if options.is_empty() {
                    CommandRejection::new(
                        "options are not allowed (arguments starting with `-`, and the option words and scripts a program takes without one)",
                    )
                } else {
                    CommandRejection::owned(format!(
                        "only these options are allowed: {}",
                        options.join(", ")
                    ))
                });
            }
        }
        Ok(())
    }

    /// A `std::process::Command` for this program and arguments, with no shell, stdin
    /// closed. Add the working directory and environment the tool needs.
    pub fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args).stdin(std::process::Stdio::null());
        command
    }

    /// The same as a `tokio::process::Command` (killed if the future is dropped).
    pub fn tokio_command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::from(self.command());
        command.kill_on_drop(true);
        command
    }
}

fn is_tar(program: &str) -> bool {
    matches!(program, "tar" | "gtar" | "bsdtar")
}

/// Whether `args[index]`, which does not start with `-`, is read by `program` as options
/// or code rather than as an operand.
fn positional_option(program: &str, args: &[String], index: usize) -> bool {
    let arg = args[index].as_str();
    let previous = index.checked_sub(1).map(|i| args[i].as_str());
    match program {
        // tar's first word is an option cluster when it has no dash (`tar tvf x.tar`).
        program if is_tar(program) => index == 0,
        // BSD-style words (`aux`, `eww`) are option clusters; a number or a list of
        // them, or the value of an option that takes one, is not.
        "ps" => {
            let takes_value = previous.is_some_and(|p| {
                matches!(
                    p,
                    "-o" | "-O"
                        | "-p"
                        | "-u"
                        | "-U"
                        | "-g"
                        | "-G"
                        | "-t"
                        | "-C"
                        | "--sort"
                        | "--format"
                        | "--pid"
                        | "--user"
                        | "o"
                        | "O"
                        | "p"
                        | "U"
                        | "t"
                )
            });
            // A cluster may end in an option's value (`ewwU0`, `axp1`).
            !takes_value && arg.starts_with(|c: char| c.is_ascii_alphabetic())
        }
        // git's subcommand is the program's first choice: `git config` writes hooks and
        // aliases that later commands run, `submodule foreach` runs a shell command, an
        // alias may run anything: the subcommand must be listed (`options = ["log"]`).
        "git" => {
            first_operand(
                args,
                &["-C", "-c", "--git-dir", "--work-tree", "--namespace"],
            ) == Some(index)
        }
        // A jq program is code (`env`, `input_filename`, `$__loc__`...): the first word.
        "jq" | "gojq" | "jaq" => {
            first_operand(
                args,
                &[
                    "--arg",
                    "--argjson",
                    "--slurpfile",
                    "--rawfile",
                    "-f",
                    "--from-file",
                    "-L",
                    "--indent",
                ],
            ) == Some(index)
        }
        // make's `VAR=value` words set variables (`CC=...` runs what it names).
        "make" | "gmake" => arg.contains('='),
        // Programs that run the program their words name: every word is a choice.
        "env" | "xargs" | "timeout" | "nice" | "nohup" | "stdbuf" | "time" | "busybox" | "sudo"
        | "doas" | "chroot" | "flock" | "setsid" | "watch" | "strace" | "ltrace" | "command"
        | "exec" | "unbuffer" | "firejail" | "ionice" | "taskset" => true,
        // A sed script is code (`e` runs a command, `w` writes a file): the word after
        // `-e`/`--expression`, or the first word when no script option is given.
        "sed" | "gsed" => {
            if matches!(previous, Some("-e" | "--expression")) {
                return true;
            }
            let scripted = args.iter().any(|a| {
                matches!(a.as_str(), "-e" | "-f" | "--expression" | "--file")
                    || a.starts_with("--expression=")
                    || a.starts_with("--file=")
            });
            !scripted && first_operand(args, &["-l", "--line-length"]) == Some(index)
        }
        // An awk program is code (`system()`, pipes): the first word when no `-f`.
        "awk" | "gawk" | "mawk" | "nawk" => {
            let from_file = args.iter().any(|a| a == "-f" || a.starts_with("--file"));
            !from_file
                && first_operand(args, &["-F", "-v", "--field-separator", "--assign"])
                    == Some(index)
        }
        // dd takes every setting as `key=value` (`of=/dev/sda`).
        "dd" => arg.contains('='),
        _ => false,
    }
}

/// The index of the first argument that is not an option or the value of one of
/// `taking_value`, up to `--`.
fn first_operand(args: &[String], taking_value: &[&str]) -> Option<usize> {
    let mut index = 0;
    while index < args.len() {
        let arg = args[index].as_str();
        if arg == "--" {
            return (index + 1 < args.len()).then_some(index + 1);
        }
        if !arg.starts_with('-') || arg == "-" {
            return Some(index);
        }
        index += if taking_value.contains(&arg) { 2 } else { 1 };
    }
    None
}

impl fmt::Debug for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandLine")
            .field("program", &self.program)
            .field("args", &self.args)
            .finish()
    }
}

/// What serde reads for a `CommandLine`: the program and its arguments, nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCommand {
    program: String,
    #[serde(default)]
    args: Vec<String>,
}

impl super::checked::Checked for CommandLine {
    type Raw<'de> = RawCommand;

    fn check(raw: RawCommand) -> Result<Self, CommandRejection> {
        Self::new(&raw.program, raw.args)
    }

    fn schema_name() -> Cow<'static, str> {
        "CommandLine".into()
    }

    fn schema() -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "program": {"type": "string", "pattern": "^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,63}$",
                            "description": "A program name from the tool's allowlist (no path)."},
                "args": {"type": "array", "maxItems": MAX_ARGS,
                         "items": {"type": "string", "maxLength": MAX_ARG_BYTES},
                         "description": "Arguments, one per item; never a shell string. Options (`-x`) only from the tool's allowlist."}
            },
            "required": ["program"],
            "additionalProperties": false
        })
    }
}

super::checked::threat_type!([] CommandLine, serialize = derive);

/// Check a `CommandLine` field (or `Option`/`Vec` of them) against
/// `#[secure(command(programs = [..], options = [..]))]`. Called by generated code.
pub fn check_command_field<F: super::FieldValues<CommandLine> + ?Sized>(
    value: &F,
    path: &crate::field::FieldPath<'_>,
    programs: &[&str],
    options: &[&str],
    problems: &mut Vec<Problem>,
) {
    if let Some(why) = value
        .values()
        .find_map(|c| c.check(programs, options).err())
    {
        path.problem(why.into_rule(), problems);
    }
}
