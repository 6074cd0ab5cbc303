/**
 * A command line as the shell would split it into words, keeping where each character of a word's value
 * came from in the text, so that part of a word can be replaced in place (redaction). Enough of POSIX sh
 * for command lines people type: single quotes, double quotes with backslash escapes, backslashes, and
 * the operators that end a simple command (`;` `&` `|` `(` `)` newline, backquote). It never fails:
 * an unclosed quote runs to the end of the text.
 *
 * KubeArmor's `Resource` is argv joined with spaces, without quotes: the same splitting gives its words
 * back as well as anything can.
 */

export interface ShellWord {
  /** The word as the program receives it (quotes removed). */
  value: string;
  /** Index in the text of each character of `value`. */
  origin: number[];
  /** Where the word starts and ends in the text (quotes included). */
  start: number;
  end: number;
  /** The quote the word opens with, if it is quoted as a whole (`'...'` or `"..."`). */
  quote?: "'" | '"';
}

/** Words grouped by simple command (the operators between them dropped). */
export function shellCommands(text: string): ShellWord[][] {
  const commands: ShellWord[][] = [];
  let words: ShellWord[] = [];
  let word: ShellWord | undefined;
  const endWord = () => {
    if (word) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  const add = (ch: string, at: number, wordStart: number) => {
    word ??= { value: '', origin: [], start: wordStart, end: wordStart };
    word.value += ch;
    word.origin.push(at);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      endWord();
      i++;
    } else if (ch === '\n' || ch === ';' || ch === '&' || ch === '|' || ch === '(' || ch === ')' || ch === '`') {
      endCommand();
      i++;
    } else if (ch === '$' && text[i + 1] === '(') {
      endCommand();
      i += 2;
    } else if (ch === "'" || ch === '"') {
      const start = word ? word.start : i;
      const opensWord = !word;
      let j = i + 1;
      while (j < text.length && text[j] !== ch) {
        if (ch === '"' && text[j] === '\\' && j + 1 < text.length && '\\"$`\n'.includes(text[j + 1]!)) j++;
        add(text[j]!, j, start);
        j++;
      }
      word ??= { value: '', origin: [], start, end: start };
      if (opensWord && (j + 1 >= text.length || /[\s;&|()`]/.test(text[j + 1]!))) word.quote = ch;
      i = j + 1;
      word.end = Math.min(i, text.length);
    } else if (ch === '\\' && i + 1 < text.length) {
      add(text[i + 1]!, i + 1, word ? word.start : i);
      i += 2;
      word!.end = i;
    } else {
      add(ch, i, word ? word.start : i);
      i++;
      word!.end = i;
    }
  }
  endCommand();
  return commands;
}

/** `value` written as one shell word in the given quote style (what replaces a whole word). */
export function quoteShellWord(value: string, quote: "'" | '"' | undefined): string {
  if (quote === "'" && !value.includes("'")) return `'${value}'`;
  if (quote === "'" || quote === '"') return `"${value.replace(/[\\"$`]/g, '\\$&')}"`;
  return /[\s'"\\;&|()`$<>]/.test(value) ? `'${value.replace(/'/g, `'\\''`)}'` : value;
}
