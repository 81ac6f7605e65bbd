"""The PartiQL grammar (lark, LALR(1)) of the QLDB subset the local ledger runs."""

GRAMMAR = r"""
// The PartiQL subset of Amazon QLDB, for the local ledger (LALR(1), contextual lexer).
//
// Keywords are case-insensitive and only reserved where the grammar can use them (the
// contextual lexer reads `value` as a name after a dot). Constructs QLDB does not run
// (GROUP BY, ORDER BY, LIMIT, DISTINCT, set operators, outer joins, PIVOT...) are parsed so
// that parser.py can reject them by name instead of with a bare syntax error.

start: statement ";"?

?statement: query
          | query (UNION | INTERSECT | EXCEPT) ALL? query                -> unsupported_set_op
          | insert
          | update
          | delete
          | from_dml
          | create_table
          | drop_table
          | undrop_table
          | create_index
          | drop_index
          | exec
          | PIVOT expr AT expr from_clause where?                        -> unsupported_pivot

// -- queries ------------------------------------------------------------------------------

query: SELECT quantifier? projection from_clause where? query_tail*
quantifier: DISTINCT | ALL
projection: "*"                                      -> select_star
          | VALUE expr                               -> select_value
          | select_item ("," select_item)*           -> select_list
select_item: expr (AS? name)?                        -> select_expr
           | postfix "." "*"                         -> select_all_fields
query_tail: GROUP BY expr ("," expr)*                -> unsupported_group_by
          | HAVING expr                              -> unsupported_having
          | ORDER BY expr (ASC | DESC)? ("," expr (ASC | DESC)?)*  -> unsupported_order_by
          | LIMIT expr                               -> unsupported_limit
          | OFFSET expr                              -> unsupported_offset
          | LET expr AS name ("," expr AS name)*     -> unsupported_let

from_clause: FROM from_item join*
join: "," from_item                                  -> join_comma
    | CROSS JOIN from_item                           -> join_cross
    | INNER? JOIN from_item (ON expr)?               -> join_inner
    | (LEFT | RIGHT | FULL) OUTER? JOIN from_item (ON expr)?  -> unsupported_outer_join
from_item: postfix (AS? name)? (AT name)? (BY name)?
         | UNPIVOT expr (AS? name)? (AT name)?       -> unsupported_unpivot
where: WHERE expr

// -- DML ----------------------------------------------------------------------------------

insert: INSERT INTO name VALUE expr                  -> insert_value
      | INSERT INTO name expr                        -> insert_expr
      | INSERT INTO name VALUE expr AT expr          -> unsupported_insert_at
update: UPDATE name (AS? name)? (BY name)? dml_op+ where?
delete: DELETE FROM name (AS? name)? (BY name)? where?
from_dml: from_clause where? dml_op+
dml_op: SET assignment ("," assignment)*             -> set_op
      | REMOVE postfix                               -> remove_op
      | INSERT INTO postfix VALUE expr (AT expr)?    -> insert_op
assignment: postfix "=" expr

// -- DDL and procedures -------------------------------------------------------------------

create_table: CREATE TABLE name (WITH "(" option ("," option)* ")")?
drop_table: DROP TABLE name
undrop_table: UNDROP TABLE name
create_index: CREATE INDEX ON name "(" postfix ("," postfix)* ")"
drop_index: DROP INDEX name ON name (WITH "(" option ("," option)* ")")?
option: name "=" expr
exec: EXEC name (expr ("," expr)*)?

// -- expressions, loosest binding first ---------------------------------------------------

?expr: or_expr
?or_expr: and_expr
        | or_expr OR and_expr                        -> or_
?and_expr: not_expr
         | and_expr AND not_expr                     -> and_
?not_expr: predicate
         | NOT not_expr                              -> not_
?predicate: concat
          | concat "=" concat                        -> eq
          | concat "<>" concat                       -> ne
          | concat "!=" concat                       -> ne
          | concat "<" concat                        -> lt
          | concat "<=" concat                       -> le
          | concat ">" concat                        -> gt
          | concat ">=" concat                       -> ge
          | concat IS NOT? (NULL | MISSING)          -> is_test
          | concat NOT? IN in_rhs                    -> in_
          | concat NOT? LIKE concat (ESCAPE concat)? -> like
          | concat NOT? BETWEEN concat AND concat    -> between
in_rhs: "(" expr ")"                                 -> in_single
      | "(" expr ("," expr)+ ")"                     -> in_list
      | "(" query ")"                                -> in_query
      | in_path
      | param
      | list_ctor
      | bag_ctor
?in_path: varref
        | in_path "." name                           -> in_dot
        | in_path "[" expr "]"                       -> in_index
?concat: additive
       | concat "||" additive                        -> concat_
?additive: multiplicative
         | additive "+" multiplicative               -> add
         | additive "-" multiplicative               -> sub
?multiplicative: unary
               | multiplicative "*" unary            -> mul
               | multiplicative "/" unary            -> div
               | multiplicative "%" unary            -> mod
?unary: postfix
      | "-" unary                                    -> neg
      | "+" unary                                    -> pos
?postfix: primary
        | postfix "." name                           -> dot
        | postfix "[" expr "]"                       -> index
        | postfix "[" "*" "]"                        -> wildcard
?primary: literal
        | param
        | varref
        | "(" expr ")"
        | "(" query ")"                              -> subquery
        | struct_ctor
        | list_ctor
        | bag_ctor
        | call
        | CAST "(" expr AS type_name ")"             -> cast
        | EXTRACT "(" IDENT FROM expr ")"            -> extract
        | SUBSTRING "(" expr FROM expr (FOR expr)? ")"  -> substring_from
        | SUBSTRING "(" expr ("," expr)* ")"         -> substring
        | TRIM "(" expr ")"                          -> trim_simple
        | TRIM "(" expr FROM expr ")"                -> trim_chars
        | TRIM "(" (LEADING | TRAILING | BOTH) expr? FROM expr ")"  -> trim_spec
        | EXISTS "(" query ")"                       -> exists_query
        | EXISTS "(" expr ")"                        -> exists_expr
        | CASE expr? case_when+ (ELSE expr)? END     -> case
case_when: WHEN expr THEN expr
call: IDENT "(" ")"                                  -> call_empty
    | IDENT "(" expr ("," expr)* ")"                 -> call_args
    | IDENT "(" "*" ")"                              -> call_star
    | IDENT "(" quantifier expr ")"                  -> call_quantified
type_name: IDENT ("(" INT ("," INT)? ")")?
         | NULL | MISSING
param: "?"
varref: IDENT                                        -> var
      | QUOTED_IDENT                                 -> quoted_var
      | "@" IDENT                                    -> local_var
      | "@" QUOTED_IDENT                             -> local_quoted_var
literal: STRING                                      -> string
       | INT                                         -> int
       | DECIMAL                                     -> decimal
       | FLOAT                                       -> float
       | ION                                         -> ion
       | TRUE                                        -> true
       | FALSE                                       -> false
       | NULL                                        -> null
       | MISSING                                     -> missing
struct_ctor: "{" (struct_field ("," struct_field)*)? "}"
struct_field: expr ":" expr
list_ctor: "[" (expr ("," expr)*)? "]"
bag_ctor: "<<" (expr ("," expr)*)? ">>"
name: IDENT | QUOTED_IDENT

// -- terminals ----------------------------------------------------------------------------

IDENT: /[a-z_$][a-z0-9_$]*/i
QUOTED_IDENT: /"(?:[^"]|"")*"/
STRING: /'(?:[^']|'')*'/
// Ion text between backticks; backticks inside Ion strings and quoted symbols are allowed.
ION: /`(?:[^`"']|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')*`/s
FLOAT.2: /(?:\d+(?:\.\d*)?|\.\d+)e[+-]?\d+/i
DECIMAL.1: /\d+\.\d*|\.\d+/
INT: /\d+/

SELECT: "SELECT"i
VALUE: "VALUE"i
FROM: "FROM"i
WHERE: "WHERE"i
AS: "AS"i
AT: "AT"i
BY: "BY"i
AND: "AND"i
OR: "OR"i
NOT: "NOT"i
IN: "IN"i
IS: "IS"i
LIKE: "LIKE"i
ESCAPE: "ESCAPE"i
BETWEEN: "BETWEEN"i
EXISTS: "EXISTS"i
CAST: "CAST"i
EXTRACT: "EXTRACT"i
SUBSTRING: "SUBSTRING"i
TRIM: "TRIM"i
LEADING: "LEADING"i
TRAILING: "TRAILING"i
BOTH: "BOTH"i
FOR: "FOR"i
CASE: "CASE"i
WHEN: "WHEN"i
THEN: "THEN"i
ELSE: "ELSE"i
END: "END"i
NULL: "NULL"i
MISSING: "MISSING"i
TRUE: "TRUE"i
FALSE: "FALSE"i
INSERT: "INSERT"i
INTO: "INTO"i
UPDATE: "UPDATE"i
SET: "SET"i
REMOVE: "REMOVE"i
DELETE: "DELETE"i
CREATE: "CREATE"i
DROP: "DROP"i
UNDROP: "UNDROP"i
TABLE: "TABLE"i
INDEX: "INDEX"i
ON: "ON"i
WITH: "WITH"i
EXEC: "EXEC"i
JOIN: "JOIN"i
INNER: "INNER"i
CROSS: "CROSS"i
LEFT: "LEFT"i
RIGHT: "RIGHT"i
FULL: "FULL"i
OUTER: "OUTER"i
DISTINCT: "DISTINCT"i
ALL: "ALL"i
GROUP: "GROUP"i
HAVING: "HAVING"i
ORDER: "ORDER"i
ASC: "ASC"i
DESC: "DESC"i
LIMIT: "LIMIT"i
OFFSET: "OFFSET"i
LET: "LET"i
UNION: "UNION"i
INTERSECT: "INTERSECT"i
EXCEPT: "EXCEPT"i
PIVOT: "PIVOT"i
UNPIVOT: "UNPIVOT"i

COMMENT: /--[^\n]*/
BLOCK_COMMENT: /\/\*(?:.|\n)*?\*\//s
%import common.WS
%ignore WS
%ignore COMMENT
%ignore BLOCK_COMMENT
"""
